# syntax=docker/dockerfile:1
# pinbot as a container image: a static binary on distroless, running as
# non-root. Built for any platform from the build machine's own (no
# emulation). The base images are pinned to digests by pinbot itself: the
# scheduled workflow .github/workflows/pinbot.yml opens the pull request.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE" \
      -o /out/pinbot ./cmd/pinbot

# distroless/static: CA certificates, /etc/passwd with nonroot, nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pinbot /usr/local/bin/pinbot
USER nonroot:nonroot
# Mount the checkout here: docker run -v "$PWD:/work" IMAGE pin --check
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/pinbot"]
CMD ["pin", "--check"]
