# Watershed: one static binary (the web UI is embedded), on a distroless base.
#   docker build -t watershed .
#   docker run -p 8080:8080 -v watershed-data:/var/lib/watershed watershed
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/watershed ./cmd/watershed

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/watershed /usr/local/bin/watershed
# The embedded store (single-node mode) and, in every mode, the webhooks
# stage's delivery queue live here: give each replica its own volume.
VOLUME /var/lib/watershed
ENV WATERSHED_DATA_DIR=/var/lib/watershed WATERSHED_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/watershed"]
CMD ["serve"]
