package ai.fulgur.cli;

import java.io.PrintStream;

/** One subcommand of {@code fulgur}. */
interface Command {

    /** One line for the command list. */
    String summary();

    /** The options, for {@code --help} and usage errors. */
    String usage();

    /** Runs with parsed arguments; returns the exit code. */
    int run(Args args, PrintStream out, PrintStream err) throws Exception;
}
