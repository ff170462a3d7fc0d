package ai.fulgur.autograd.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.Device;
import ai.djl.engine.Engine;
import org.junit.jupiter.api.Test;

class DeviceNamesTest {
    @Test
    void namesBecomeDevicesWithAnIndex() {
        Engine fulgur = Engine.getEngine("Fulgur");
        assertEquals(Device.cpu(), DeviceNames.parse("cpu", fulgur));
        assertEquals(Device.gpu(0), DeviceNames.parse("gpu", fulgur));
        assertEquals(Device.gpu(1), DeviceNames.parse("gpu:1", fulgur));
        assertEquals(Device.gpu(2), DeviceNames.parse("cuda:2", fulgur));
        assertEquals(fulgur.defaultDevice(), DeviceNames.parse(null, fulgur));
        assertThrows(IllegalArgumentException.class, () -> DeviceNames.parse("tpu", fulgur));
    }
}
