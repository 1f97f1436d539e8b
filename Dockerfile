# The chains binary in a small image: `docker build -t chains-in-swift .` (no Docker engine on the build machine,
# so this stays minimal). The Swift runtime is linked statically; the image needs only libc, libstdc++ and zlib.
FROM swift:6.3-bookworm AS build
WORKDIR /src
# The whole package (the manifest names the test targets too); .dockerignore leaves build output out.
COPY . .
RUN swift build -c release --static-swift-stdlib --product chains \
    && install -D "$(swift build -c release --show-bin-path)/chains" /out/chains \
    && strip /out/chains

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/chains /usr/local/bin/chains
USER 65532:65532
ENV HOME=/home/nonroot
ENTRYPOINT ["/usr/local/bin/chains"]
CMD ["controller"]
