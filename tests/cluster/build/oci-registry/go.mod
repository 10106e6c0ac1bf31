// Builds go-containerregistry's `registry` for the image-build host scenario.
module odoo-saas-kit/localcluster/oci-registry

go 1.26.0

require github.com/google/go-containerregistry v0.22.1
