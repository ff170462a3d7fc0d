package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;

/** A copy on another device. Backward moves the gradient back to the input's device. */
public final class ToDevice extends Function {
    private final Device from;

    private ToDevice(Device from) {
        this.from = from;
    }

    public static Variable apply(Variable x, Device device) {
        if (device.equals(x.device())) {
            return x;
        }
        return new ToDevice(x.device()).record(x.data().to(device), x);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {g.to(from)};
    }
}
