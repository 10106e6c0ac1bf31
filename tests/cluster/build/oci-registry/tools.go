//go:build tools

// Package tools pins go-containerregistry's registry, a small OCI Distribution API server: the
// image-build host scenario pushes to it where MicroK8s' registry addon (localhost:32000) would be.
package tools

import _ "github.com/google/go-containerregistry/cmd/registry"
