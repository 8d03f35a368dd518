package main

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gluenet/gluenet/internal/config"
	"github.com/gluenet/gluenet/sim"
)

func (a *app) simCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "A simulated AWS region (Glue, EC2, CloudWatch Logs) for tests and demos",
		Long: `sim runs a local, AWS-compatible simulated region. It speaks the real wire
protocols of Glue (JSON 1.1), EC2 (query) and CloudWatch Logs (JSON 1.1) on
one endpoint, so gluenet, the AWS CLI and boto3 talk to it unchanged through an
endpoint URL. Request signatures are accepted but not verified.`,
	}
	cmd.AddCommand(a.simServeCommand(), a.simFaultCommand())
	return cmd
}

func (a *app) simServeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a simulated region until interrupted",
		Example: `  gluenet sim serve --addr 127.0.0.1:4566
  gluenet sim serve --addr 127.0.0.1:4566 --scenario my-scenario.yaml

  # then, in another shell, the lines it prints:
  export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
         AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  aws --endpoint-url "$AWS_ENDPOINT_URL" glue get-job --job-name AirflowBlogJob
  gluenet plan --job AirflowBlogJob --connections MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, _ := cmd.Flags().GetString("addr")
			scen, _ := cmd.Flags().GetString("scenario")
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return usagef("--addr %q: want HOST:PORT, e.g. 127.0.0.1:4566", addr)
			}
			if host == "" {
				addr = net.JoinHostPort("127.0.0.1", port) // loopback unless asked otherwise
			}
			sc, err := sim.LoadScenario(scen)
			if err != nil {
				return usagef("%v", err)
			}
			opts := []sim.Option{sim.WithLogger(a.log), sim.WithClock(sim.NewScaledClock(time.Now().UTC(), sc.TimeScale, nil))}
			if cmd.Flags().Changed("seed") {
				seed, _ := cmd.Flags().GetInt64("seed")
				opts = append(opts, sim.WithSeed(seed))
			}
			region, err := sim.New(sc, opts...)
			if err != nil {
				return usagef("%v", err)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				why := ""
				if errors.Is(err, syscall.EADDRINUSE) {
					why = " (another program holds that port)"
				}
				return usagef("sim serve: cannot listen on %s%s: %v\nChoose another --addr, e.g. --addr 127.0.0.1:4567.", addr, why, err)
			}
			endpoint, exposed := simEndpoint(ln.Addr())
			if exposed {
				a.log.Warn("the simulated region listens beyond this machine: request signatures are accepted but not verified, so anyone who can reach the port can change its state", "addr", ln.Addr().String())
			}
			a.log.Info("simulated region listening", "addr", ln.Addr().String(), "endpoint", endpoint, "scenario", scen)
			fmt.Fprintf(a.stdout, "Simulated region %s listening on %s. In another shell:\n\n%s\n", scen, endpoint, simExports(endpoint, sc.Region))
			return sim.ServeListener(cmd.Context(), ln, region, a.log)
		},
	}
	cmd.Flags().String("addr", "127.0.0.1:4566", "address to listen on (loopback by default)")
	cmd.Flags().String("scenario", "default", "built-in scenario name or YAML file")
	cmd.Flags().Int64("seed", 0, "override the scenario's random seed")
	return cmd
}

func (a *app) simFaultCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fault",
		Short: "Inject a fault into a running simulated region (its control API)",
		Example: `  gluenet sim fault az us-east-1a down          # the AZ fails Glue's health check
  gluenet sim fault az us-east-1a degraded      # runs placed there fail after a delay
  gluenet sim fault az us-east-1a healthy
  gluenet sim fault exhaust subnet-0a1b2c3d4e5f60022 3   # leave 3 free IPs
  gluenet sim fault throttle glue 0.3           # 30% of Glue calls get ThrottlingException
  gluenet sim fault errors ec2 0.1              # 10% of EC2 calls get a 500
  gluenet sim fault latency '*' 20ms            # add 20ms to every call
  gluenet sim fault list                        # the faults in force
  gluenet sim fault reset                       # undo them all
  gluenet sim fault state                       # print the region's state as JSON`,
		Long: `fault changes a running simulated region through its control API: the
endpoint is --endpoint-url, else AWS_ENDPOINT_URL. Each fault stays until it
is changed back (az ... healthy, a rate or latency of 0, exhaust with more
free IPs) or until "gluenet sim fault reset" undoes every fault in force.
"gluenet sim fault list" shows them.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			endpoint, _ := cmd.Flags().GetString("endpoint-url")
			if endpoint == "" {
				endpoint, _ = a.getenv("AWS_ENDPOINT_URL")
			}
			if endpoint == "" {
				return usagef("no simulated region: give --endpoint-url http://127.0.0.1:4566 (or set AWS_ENDPOINT_URL)")
			}
			c := sim.NewControlClient(endpoint, nil)
			ctx := cmd.Context()
			want := func(n int, usage string) error {
				if len(args) != n {
					return usagef("usage: gluenet sim fault %s", usage)
				}
				return nil
			}
			rate := func(s string) (float64, error) {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil || v < 0 || v > 1 {
					return 0, usagef("rate %q: want a number between 0 and 1", s)
				}
				return v, nil
			}
			var err error
			switch args[0] {
			case "az":
				if err = want(3, "az AZ down|degraded|healthy"); err == nil {
					err = c.SetAZState(ctx, args[1], sim.AZState(args[2]))
				}
			case "exhaust":
				if err = want(3, "exhaust SUBNET LEAVE_FREE"); err == nil {
					n, perr := strconv.Atoi(args[2])
					if perr != nil || n < 0 {
						return usagef("LEAVE_FREE %q: want a whole number >= 0", args[2])
					}
					err = c.Exhaust(ctx, args[1], n)
				}
			case "throttle", "errors":
				if err = want(3, args[0]+" SERVICE RATE"); err == nil {
					var r float64
					if r, err = rate(args[2]); err != nil {
						return err
					}
					if args[0] == "throttle" {
						err = c.SetThrottle(ctx, args[1], r)
					} else {
						err = c.SetServerErrors(ctx, args[1], r)
					}
				}
			case "latency":
				if err = want(3, "latency SERVICE DURATION"); err == nil {
					var d time.Duration
					if d, err = config.ParseDuration("latency", args[2]); err != nil {
						return err
					}
					err = c.SetLatency(ctx, args[1], d)
				}
			case "state":
				var st any
				if st, err = c.GetState(ctx); err == nil {
					return jsonOut(a, st)
				}
			case "list":
				if err = want(1, "list"); err == nil {
					var st sim.State
					if st, err = c.GetState(ctx); err == nil {
						fmt.Fprint(a.stdout, faultList(st))
						return nil
					}
				}
			case "reset":
				if err = want(1, "reset"); err == nil {
					var undone []string
					if undone, err = c.ResetFaults(ctx); err == nil {
						if len(undone) == 0 {
							fmt.Fprintln(a.stdout, "No fault was in force.")
						}
						for _, u := range undone {
							fmt.Fprintln(a.stdout, "reset: "+u)
						}
						return nil
					}
				}
			default:
				return usagef("unknown fault %q: use az, exhaust, throttle, errors, latency, list, reset or state", args[0])
			}
			if ue := (*usageError)(nil); errors.As(err, &ue) {
				return err
			}
			if err != nil {
				return &awsError{err: err, msg: fmt.Sprintf("simulated region at %s: %v", endpoint, err)}
			}
			fmt.Fprintln(a.stdout, "ok (gluenet sim fault list shows the faults in force; gluenet sim fault reset undoes them)")
			return nil
		},
	}
	return cmd
}

// faultList says which faults are in force in a region's state, one line
// each, in the words of the command that sets them.
func faultList(st sim.State) string {
	var b strings.Builder
	for _, z := range st.AZs {
		if z.State != sim.AZHealthy {
			fmt.Fprintf(&b, "az %s %s\n", z.Name, z.State)
		}
	}
	for _, f := range []struct {
		verb string
		m    map[string]float64
	}{{"throttle", st.Faults.Throttle}, {"errors", st.Faults.ServerErrors}} {
		for _, svc := range slices.Sorted(maps.Keys(f.m)) {
			fmt.Fprintf(&b, "%s %s %v\n", f.verb, svc, f.m[svc])
		}
	}
	for _, svc := range slices.Sorted(maps.Keys(st.Faults.Latency)) {
		fmt.Fprintf(&b, "latency %s %s\n", svc, st.Faults.Latency[svc])
	}
	for _, e := range st.Faults.Exhausted {
		fmt.Fprintf(&b, "exhaust %s: %d free IPs (other workloads hold %d; the scenario starts with %d)\n",
			e.SubnetID, e.FreeIPs, e.BackgroundENIs, e.ScenarioBackgroundENIs)
	}
	if b.Len() == 0 {
		return "No fault is in force.\n"
	}
	return b.String() + "(gluenet sim fault reset undoes them all.)\n"
}

// simEndpoint is the URL clients on this machine use to reach a listener,
// and whether the listener is reachable from other machines too. A wildcard
// address (0.0.0.0, ::) is not a usable host in a URL: loopback is.
func simEndpoint(a net.Addr) (string, bool) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String(), false
	}
	ip := tcp.IP
	exposed := !ip.IsLoopback()
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1) // a wildcard listener accepts IPv4 loopback too
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port)), exposed
}

// simExports are the shell lines that point the AWS SDKs and CLIs at a
// simulated region. AWS_DEFAULT_REGION is what AWS CLI v1 and boto3 read;
// AWS_REGION is what the Go SDK reads. The README shows the same lines
// (TestReadmeSimSnippet checks it).
func simExports(endpoint, region string) string {
	if region == "" {
		region = "us-east-1"
	}
	return fmt.Sprintf("export AWS_ENDPOINT_URL=%s AWS_REGION=%s AWS_DEFAULT_REGION=%s \\\n       AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n", endpoint, region, region)
}
