// Command kube-scheduler is the upstream scheduler, linked from the Go module proxy so that
// fedmesh's integration tests can check where real scheduling puts a pod (a tainted, unschedulable
// node gets nothing new). Test infrastructure only.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	os.Exit(cli.Run(app.NewSchedulerCommand()))
}
