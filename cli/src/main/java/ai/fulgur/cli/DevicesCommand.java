package ai.fulgur.cli;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.cpu.CpuParallel;
import java.io.PrintStream;

/** {@code fulgur devices}: what this machine can run on, and why not where it cannot. */
final class DevicesCommand implements Command {

    @Override
    public String summary() {
        return "list the devices Fulgur can use here";
    }

    @Override
    public String usage() {
        return "usage: fulgur devices\n";
    }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) {
        if (args.help()) {
            out.print(usage());
            return 0;
        }
        args.finish();
        out.printf("cpu      available (%d worker threads, Java %s)%n", CpuParallel.threads(),
                Runtime.version());
        int gpus = Backends.deviceCount(Device.Kind.CUDA);
        if (gpus > 0) {
            out.printf("cuda     %d device(s)%n", gpus);
        } else {
            out.println("cuda     unavailable: " + Backends.unavailableReason(Device.Kind.CUDA));
        }
        return 0;
    }
}
