package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The {@code -Dfulgur.cuda.launch} setting (the launches themselves run in every gpu test). */
class LaunchPathTest {

    @Test
    void namedPathsAreChosen() {
        assertEquals(CudaDevice.LaunchPath.FOREIGN, CudaDevice.defaultLaunchPath("foreign"));
        assertEquals(CudaDevice.LaunchPath.JCUDA_PACKED, CudaDevice.defaultLaunchPath("jcuda"));
        assertEquals(CudaDevice.LaunchPath.JCUDA_PARAMS, CudaDevice.defaultLaunchPath("params"));
    }

    @Test
    void defaultIsForeignWhereTheDriverLibraryOpens() {
        assertEquals(DriverLaunch.available() ? CudaDevice.LaunchPath.FOREIGN : CudaDevice.LaunchPath.JCUDA_PACKED,
                CudaDevice.defaultLaunchPath(null));
    }

    @Test
    void unknownSettingIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaDevice.defaultLaunchPath("fast"));
        assertTrue(e.getMessage().contains("'fast'") && e.getMessage().contains("foreign, jcuda or params"),
                e.getMessage());
    }
}
