# An empty base: the image holds nothing but the one file.
FROM scratch
# The file `cargo xtask dist` wrote, mode 0755 and a fixed mtime, so the layer is reproducible.
# For another platform, `cargo xtask dist --platform P` sends docker this file
# with target/dist/<os>-<arch>[-<variant>]/hello here (docker build -f -): the
# legacy builder has no TARGETPLATFORM, and with `--platform` it fails a COPY
# that follows an ARG step in a FROM scratch image (the ARG step's image gets
# the host's platform).
COPY target/dist/hello /hello
# Run as nobody:nogroup; the program needs no privilege and no writable file.
USER 65534:65534
# Exec form: no shell in the image, and none is needed.
ENTRYPOINT ["/hello"]
