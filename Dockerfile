# Build: docker build -t crvshub .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/crvshub ./hub/cmd/crvshub && mkdir /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/crvshub /crvshub
# The hub runs as nonroot (uid 65532) and writes /data. A VOLUME path the
# image lacks is created owned by root, and the hub could not write there
# (a restart loop); so the image has /data owned by 65532, and a new named
# volume starts with that owner. A bind-mounted host folder must be owned
# by 65532 too.
COPY --from=build --chown=65532:65532 --chmod=700 /out/data /data
USER 65532:65532
VOLUME ["/data"]
ENV CRVSHUB_DATA=/data CRVSHUB_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/crvshub", "serve"]
