# Build: docker build -t crvshub .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/crvshub ./hub/cmd/crvshub

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/crvshub /crvshub
VOLUME ["/data"]
ENV CRVSHUB_DATA=/data CRVSHUB_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/crvshub", "serve"]
