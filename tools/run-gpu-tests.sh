#!/usr/bin/env bash
# Runs the tests tagged gpu from an unpacked distribution with its tests unpacked over it (dist/fulgur-tests.tar.xz):
#   tar -xJf fulgur-VERSION-linux-x86_64.tar.xz && tar -xJf fulgur-tests.tar.xz && fulgur/bin/fulgur-gpu-tests
# Extra arguments go to the JUnit console launcher (e.g. --select-class ai.fulgur.cuda.CudaLinalgTest).
set -euo pipefail
home="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cp="$(ls "$home"/lib/*.jar "$home"/tests/fulgur-*-tests.jar | tr '\n' ':')"
selectors=("$@")
if [ ${#selectors[@]} -eq 0 ]; then
  selectors=(--scan-classpath "$home/tests/fulgur-cuda-tests.jar" --scan-classpath "$home/tests/fulgur-training-tests.jar"
    --scan-classpath "$home/tests/fulgur-inference-tests.jar" --include-tag gpu --include-classname '.*')
  # every class name: the default pattern (names ending in Test) skips nested gpu classes such as
  # CachingAllocatorTest$OnTheGpu; the tag alone selects
fi
exec "$home/runtime/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -Dai.djl.offline=true -Dai.djl.default_engine=Fulgur -Xmx16g \
  -jar "$home"/tests/junit-platform-console-standalone-*.jar execute \
  --class-path "$cp" --details=tree --disable-banner "${selectors[@]}"
