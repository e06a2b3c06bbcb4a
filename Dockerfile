# Static binary (pure-Go SQLite driver, CGO_ENABLED=0) on a minimal base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/manam ./cmd/manam

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/manam /usr/local/bin/manam
USER nonroot:nonroot
WORKDIR /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/manam"]
CMD ["serve"]
