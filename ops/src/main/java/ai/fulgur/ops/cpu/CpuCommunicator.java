package ai.fulgur.ops.cpu;

import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.distributed.Communicator;
import ai.fulgur.ops.distributed.Rendezvous;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;

/**
 * Collectives between CPU processes on one machine: rank 0 is a hub on a loopback port (published through the
 * {@link Rendezvous}); every other rank holds one connection to it. An all-reduce sends each rank's values to the hub,
 * which adds them in rank order (0, 1, …, so every run gives the same bits) in double precision and sends the sum
 * back. Meant for development and tests of data parallelism without GPUs, not for speed.
 */
final class CpuCommunicator implements Communicator {
    private static final int ALL_REDUCE = 1;
    private static final int BROADCAST = 2;

    private final int rank;
    private final int size;
    private final Socket[] peers;            // rank 0: one per other rank (index = rank); others: [0] = the hub
    private final DataInputStream[] in;
    private final DataOutputStream[] out;

    CpuCommunicator(int rank, int size, Rendezvous rendezvous) {
        this.rank = rank;
        this.size = size;
        this.peers = new Socket[size];
        this.in = new DataInputStream[size];
        this.out = new DataOutputStream[size];
        try {
            if (size == 1) {
                return;
            }
            if (rank == 0) {
                try (ServerSocket hub = new ServerSocket(0, size, InetAddress.getLoopbackAddress())) {
                    hub.setSoTimeout((int) Math.min(Integer.MAX_VALUE, rendezvous.timeout().toMillis()));
                    rendezvous.publish(ByteBuffer.allocate(4).putInt(hub.getLocalPort()).array());
                    for (int joined = 1; joined < size; joined++) {
                        Socket s = hub.accept();
                        DataInputStream i = new DataInputStream(s.getInputStream());
                        int r = i.readInt();
                        if (r <= 0 || r >= size || peers[r] != null) {
                            s.close();
                            throw new IllegalStateException("a process joined the group of " + size
                                    + " as rank " + r + ", which is out of range or taken");
                        }
                        peers[r] = s;
                        in[r] = i;
                        out[r] = new DataOutputStream(s.getOutputStream());
                    }
                }
            } else {
                int port = ByteBuffer.wrap(rendezvous.await()).getInt();
                Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
                peers[0] = s;
                in[0] = new DataInputStream(s.getInputStream());
                out[0] = new DataOutputStream(s.getOutputStream());
                out[0].writeInt(rank);
                out[0].flush();
            }
        } catch (IOException e) {
            close();
            throw new UncheckedIOException("rank " + rank + " of " + size + " could not join the CPU group: "
                    + e.getMessage(), e);
        }
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public void allReduceSum(Tensor t) {
        CpuStorage data = contiguous("allReduceSum", t);
        int n = (int) t.numel();
        int base = (int) t.offset();
        if (size == 1) {
            return;
        }
        try {
            if (rank == 0) {
                double[] sum = new double[n];
                for (int i = 0; i < n; i++) {
                    sum[i] = data.get(base + i);
                }
                double[] part = new double[n];
                for (int r = 1; r < size; r++) {
                    readHeader(r, ALL_REDUCE, n);
                    readDoubles(in[r], part);
                    for (int i = 0; i < n; i++) {
                        sum[i] += part[i];
                    }
                }
                for (int r = 1; r < size; r++) {
                    writeDoubles(out[r], sum);
                }
                store(data, base, sum);
            } else {
                double[] mine = new double[n];
                for (int i = 0; i < n; i++) {
                    mine[i] = data.get(base + i);
                }
                out[0].writeInt(ALL_REDUCE);
                out[0].writeInt(n);
                writeDoubles(out[0], mine);
                readDoubles(in[0], mine);
                store(data, base, mine);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("allReduceSum of " + n + " elements failed on rank " + rank + ": "
                    + e.getMessage(), e);
        }
    }

    @Override
    public void broadcast(Tensor t, int root) {
        if (root < 0 || root >= size) {
            throw new IllegalArgumentException("broadcast root must be in [0, " + size + "), got " + root);
        }
        CpuStorage data = contiguous("broadcast", t);
        int n = (int) t.numel();
        int base = (int) t.offset();
        if (size == 1) {
            return;
        }
        try {
            double[] values = new double[n];
            if (rank == root) {
                for (int i = 0; i < n; i++) {
                    values[i] = data.get(base + i);
                }
            }
            if (rank == 0) {
                if (root != 0) {
                    readHeader(root, BROADCAST, n);
                    readDoubles(in[root], values);
                    store(data, base, values);
                }
                for (int r = 1; r < size; r++) {
                    if (r != root) {
                        writeDoubles(out[r], values);
                    }
                }
            } else if (rank == root) {
                out[0].writeInt(BROADCAST);
                out[0].writeInt(n);
                writeDoubles(out[0], values);
            } else {
                readDoubles(in[0], values);
                store(data, base, values);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("broadcast of " + n + " elements failed on rank " + rank + ": "
                    + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        for (Socket s : peers) {
            if (s != null) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // leaving anyway
                }
            }
        }
    }

    private static CpuStorage contiguous(String op, Tensor t) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(op + " needs a contiguous tensor, got shape " + t.shape()
                    + " with strides " + java.util.Arrays.toString(t.strides()));
        }
        if (t.numel() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(op + ": " + t.numel() + " elements exceed a CPU buffer's "
                    + Integer.MAX_VALUE);
        }
        return t.cpu();
    }

    private void readHeader(int from, int op, int n) throws IOException {
        int gotOp = in[from].readInt();
        int gotN = in[from].readInt();
        if (gotOp != op || gotN != n) {
            throw new IllegalStateException("rank " + from + " called " + name(gotOp) + " of " + gotN
                    + " elements where rank 0 called " + name(op) + " of " + n + "; every rank must call the same "
                    + "collectives in the same order");
        }
    }

    private static String name(int op) {
        return op == ALL_REDUCE ? "allReduceSum" : op == BROADCAST ? "broadcast" : "operation " + op;
    }

    private static void store(CpuStorage data, int base, double[] values) {
        for (int i = 0; i < values.length; i++) {
            data.set(base + i, values[i]);
        }
    }

    private static void writeDoubles(DataOutputStream o, double[] v) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(v.length * 8);
        b.asDoubleBuffer().put(v);
        o.write(b.array());
        o.flush();
    }

    private static void readDoubles(DataInputStream i, double[] v) throws IOException {
        byte[] bytes = new byte[v.length * 8];
        i.readFully(bytes);
        ByteBuffer.wrap(bytes).asDoubleBuffer().get(v);
    }
}
