//go:build tools

// Package tools pins np-guard's netpol-analyzer, which the isolation proof runs over the
// tenants' NetworkPolicies to list every connection they allow.
package tools

import _ "github.com/np-guard/netpol-analyzer/cmd/netpolicy"
