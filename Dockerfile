# An empty base: the image holds nothing but the one file.
FROM scratch
# The file `cargo xtask dist` wrote, mode 0755 and a fixed mtime, so the layer is reproducible.
COPY target/dist/hello /hello
# Run as nobody:nogroup; the program needs no privilege and no writable file.
USER 65534:65534
# Exec form: no shell in the image, and none is needed.
ENTRYPOINT ["/hello"]
