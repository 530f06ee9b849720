# stevedore's image: one static binary and the CA certificates it needs for HTTPS (registries, Zulip,
# hosting providers), nothing else — no shell, no git (history scanning reads the object database
# in-process). Targets:
#   docker build -t stevedore .                  (default, last stage) compiles in a Rust image, copies into scratch
#   docker build --target ci -t stevedore:ci .   the same plus busybox's shell: a GitLab job image needs a
#                                                shell to run a job's script
#   --build-arg BINARY=context                   takes a static binary built on the host instead of compiling
#                                                (ci/test-image: prebuilt/usr/local/bin/stevedore and
#                                                prebuilt/etc/ssl/certs/ca-certificates.crt in the context)
# BuildKit skips the stages a target does not use; the classic builder builds every stage before the
# target, which is why the stages below tolerate each other's absence.

ARG BINARY=compile
ARG RUST_IMAGE=rust:1-bookworm
ARG SHELL_IMAGE=busybox:1.37-musl

# The prebuilt binary from the build context, when there is one (the Dockerfile always matches, so the
# COPY succeeds without prebuilt/).
FROM scratch AS context
COPY Dockerfile prebuilt* /out/

# Compile a static binary (glibc, crt-static: no libc needed at run time; DNS is not used by the image's
# own checks, and stevedore reaches registries and APIs by the names it is given) with Cargo.toml's `dist`
# profile (optimised for size, fat LTO, one codegen unit, panic=abort, stripped): a 12 MB image where
# `--release` gives 21.6 MB.
FROM ${RUST_IMAGE} AS compile
ARG BINARY
WORKDIR /src
COPY . .
RUN if [ "$BINARY" != compile ]; then mkdir -p /out; exit 0; fi; \
    set -eux; \
    RUSTFLAGS='-C target-feature=+crt-static' \
      cargo build --profile dist --locked --target x86_64-unknown-linux-gnu; \
    mkdir -p /out/usr/local/bin /out/etc/ssl/certs /out/tmp; \
    cp target/x86_64-unknown-linux-gnu/dist/stevedore /out/usr/local/bin/stevedore; \
    cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ca-certificates.crt; \
    chmod 1777 /out/tmp

FROM ${BINARY} AS binary

# The GitLab job image (the template's default `image` input): the binary plus a shell.
FROM ${SHELL_IMAGE} AS ci
COPY --from=binary /out/usr/local/bin/stevedore /usr/local/bin/stevedore
COPY --from=binary /out/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/usr/local/bin:$PATH SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt

# The image itself: FROM scratch, the binary, the certificates, a /tmp.
FROM scratch AS stevedore
COPY --from=binary /out/usr/local/bin/stevedore /usr/local/bin/stevedore
COPY --from=binary /out/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=binary /out/tmp /tmp
ENV PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/stevedore"]
CMD ["--help"]
