#!/usr/bin/env bash
# Builds the self-contained distribution: a jlink runtime of Temurin 25 (only the modules Fulgur needs), the jars,
# and bin/fulgur, packed as dist/fulgur-VERSION-linux-x86_64.tar.xz; runs on a machine without Java.
# With --with-tests it also packs dist/fulgur-tests.tar.xz: every module's test classes plus the JUnit console
# launcher, unpacked over the distribution by bin/fulgur-gpu-tests' callers (see tools/run-gpu-tests.sh).
# Usage: tools/make-bundle.sh [--with-tests] [--skip-build]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
with_tests=0
skip_build=0
for arg in "$@"; do
  case "$arg" in
    --with-tests) with_tests=1 ;;
    --skip-build) skip_build=1 ;;
    *) echo "make-bundle: unknown argument $arg" >&2; exit 2 ;;
  esac
done
JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME
[ -x "$JAVA_HOME/bin/jlink" ] || { echo "make-bundle: no jlink under JAVA_HOME=$JAVA_HOME (need a JDK 25)" >&2; exit 1; }
version="$(sed -n '0,/<artifactId>fulgur-parent<\/artifactId>/d; s:.*<version>\(.*\)</version>.*:\1:p' pom.xml | head -n 1)"
version="${version%-SNAPSHOT}"
if [ "$skip_build" = 0 ]; then
  mvn -B -q -DskipTests package
fi
stage="$root/dist/stage"
rm -rf "$stage"
mkdir -p "$stage/fulgur/bin" "$stage/fulgur/lib"
cp cli/target/fulgur-cli.jar cli/target/lib/*.jar "$stage/fulgur/lib/"
# JCuda's natives jar carries the PTX compiler, NVRTC and runtime bindings too (26 MB); Fulgur loads only the driver
natives="$(ls "$stage/fulgur/lib"/jcuda-natives-*.jar)"
mkdir -p "$stage/natives" && (cd "$stage/natives" && "$JAVA_HOME/bin/jar" xf "$natives")
rm -f "$stage/natives"/lib/libJNvPTXCompiler-* "$stage/natives"/lib/libJNvrtc-* "$stage/natives"/lib/libJCudaRuntime-*
rm -f "$natives" && "$JAVA_HOME/bin/jar" --create --file "$natives" -C "$stage/natives" .
rm -rf "$stage/natives"
"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,jdk.unsupported,java.management,jdk.management,java.naming,java.sql,java.xml,jdk.httpserver,jdk.incubator.vector,java.net.http,jdk.crypto.ec,jdk.zipfs \
  --strip-debug --no-man-pages --no-header-files --output "$stage/fulgur/runtime"
cat > "$stage/fulgur/bin/fulgur" <<'LAUNCHER'
#!/usr/bin/env bash
# The fulgur command from the self-contained distribution (no Java needed on this machine).
set -euo pipefail
home="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$home/runtime/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -Dai.djl.offline=true -Dai.djl.default_engine=Fulgur -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
  -XX:+UseParallelGC ${FULGUR_JAVA_OPTS:-} -cp "$home/lib/*" ai.fulgur.cli.Main "$@"
LAUNCHER
chmod +x "$stage/fulgur/bin/fulgur"
mkdir -p dist
tar -C "$stage" -cJf "dist/fulgur-$version-linux-x86_64.tar.xz" fulgur
echo "make-bundle: dist/fulgur-$version-linux-x86_64.tar.xz ($(du -h "dist/fulgur-$version-linux-x86_64.tar.xz" | cut -f1))"
if [ "$with_tests" = 1 ]; then
  mvn -B -q -DskipTests test-compile
  tests="$root/dist/tests-stage/fulgur/tests"
  rm -rf "$root/dist/tests-stage"
  mkdir -p "$tests"
  for m in ops cuda autograd datasets training inference; do
    if [ -d "$m/target/test-classes" ]; then
      "$JAVA_HOME/bin/jar" --create --file "$tests/fulgur-$m-tests.jar" -C "$m/target/test-classes" .
    fi
  done
  console="org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar"
  if [ ! -f "$HOME/.m2/repository/$console" ]; then
    mvn -B -q dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1
  fi
  cp "$HOME/.m2/repository/$console" "$tests/"
  cp tools/run-gpu-tests.sh "$root/dist/tests-stage/fulgur/bin-run-gpu-tests"
  mkdir -p "$root/dist/tests-stage/fulgur/bin"
  mv "$root/dist/tests-stage/fulgur/bin-run-gpu-tests" "$root/dist/tests-stage/fulgur/bin/fulgur-gpu-tests"
  chmod +x "$root/dist/tests-stage/fulgur/bin/fulgur-gpu-tests"
  tar -C "$root/dist/tests-stage" -cJf dist/fulgur-tests.tar.xz fulgur
  echo "make-bundle: dist/fulgur-tests.tar.xz ($(du -h dist/fulgur-tests.tar.xz | cut -f1))"
fi
