// Command cert-manager-controller runs the cert-manager controllers the local platform needs
// (Certificates, CertificateRequest approval, the CA and self-signed issuers, ClusterIssuers
// and the Ingress shim) out of cluster, wired as cert-manager's cmd/controller wires them.
// No leader election (one instance), no ACME (nothing here can reach Let's Encrypt).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// Blank imports register the controllers and issuer types with the library.
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

const workersPerController = 5

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server")
	clusterResourceNamespace := flag.String("cluster-resource-namespace", "cert-manager",
		"namespace of the Secrets ClusterIssuers refer to")
	enableCertificateOwnerRef := flag.Bool("enable-certificate-owner-ref", false,
		"make each Certificate the owner of its Secret, so the Secret is deleted with it")
	flag.Parse()
	if *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "--kubeconfig is required")
		os.Exit(2)
	}

	logf.InitLogs()
	rootCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rootCtx = logf.NewContext(rootCtx, logf.Log, "controller")
	log := logf.FromContext(rootCtx)

	factory, err := controllerpkg.NewContextFactory(rootCtx, controllerpkg.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   20,
		KubernetesAPIBurst: 50,
		IssuerOptions: controllerpkg.IssuerOptions{
			ClusterResourceNamespace: *clusterResourceNamespace,
		},
		IngressShimOptions: controllerpkg.IngressShimOptions{
			DefaultIssuerKind:  "Issuer",
			DefaultIssuerGroup: "cert-manager.io",
		},
		CertificateOptions: controllerpkg.CertificateOptions{
			EnableOwnerRef:                           *enableCertificateOwnerRef,
			CertificateRequestMinimumBackoffDuration: time.Hour,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
		},
	})
	if err != nil {
		log.Error(err, "building the controller context")
		os.Exit(1)
	}

	names := make([]string, 0, len(controllerpkg.Known()))
	for name := range controllerpkg.Known() {
		names = append(names, name)
	}
	sort.Strings(names)

	var running sync.WaitGroup
	for _, name := range names {
		controller, err := controllerpkg.Known()[name](factory)
		if err != nil {
			log.Error(err, "constructing controller", "controller", name)
			os.Exit(1)
		}
		running.Add(1)
		go func() {
			defer running.Done()
			if err := controller.Run(workersPerController, rootCtx); err != nil {
				log.Error(err, "controller failed", "controller", name)
				os.Exit(1)
			}
		}()
	}

	// Informers are started after every controller registered the ones it watches.
	shared, err := factory.Build()
	if err != nil {
		log.Error(err, "building the shared context")
		os.Exit(1)
	}
	shared.KubeSharedInformerFactory.Start(rootCtx.Done())
	shared.SharedInformerFactory.Start(rootCtx.Done())
	shared.HTTP01ResourceMetadataInformersFactory.Start(rootCtx.Done())
	log.Info("started controllers", "controllers", strings.Join(names, ","))
	running.Wait()
}
