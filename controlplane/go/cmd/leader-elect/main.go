// Command leader-elect is a client-go leader election participant (tools/leaderelection with a
// LeaseLock), used by fedmesh's tests to prove that fedmesh replicas and client-go participants
// share one Lease safely, and by the election benchmark as the reference. Test infrastructure only.
//
// It prints one JSON line per event on stdout: {"event":"started"|"stopped"|"new-leader","id":...}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/signal"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

func emit(event, id string) {
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"event": event, "id": id, "unixNano": time.Now().UnixNano()})
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file")
	namespace := flag.String("namespace", "default", "lease namespace")
	name := flag.String("name", "", "lease name")
	id := flag.String("id", "", "identity")
	leaseDuration := flag.Duration("lease-duration", 15*time.Second, "lease duration")
	renewDeadline := flag.Duration("renew-deadline", 10*time.Second, "renew deadline")
	retryPeriod := flag.Duration("retry-period", 2*time.Second, "retry period")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		panic(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: *namespace, Name: *name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: *id},
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   *leaseDuration,
		RenewDeadline:   *renewDeadline,
		RetryPeriod:     *retryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { emit("started", *id); <-ctx.Done() },
			OnStoppedLeading: func() { emit("stopped", *id) },
			OnNewLeader:      func(identity string) { emit("new-leader", identity) },
		},
	})
}
