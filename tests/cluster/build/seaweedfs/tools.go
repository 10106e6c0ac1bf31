//go:build tools

// Package tools pins SeaweedFS (Apache-2.0): `weed server -s3` runs a master, a volume
// server, a filer and the S3 gateway in one process, the object store backups go to.
package tools

import _ "github.com/seaweedfs/seaweedfs/weed"
