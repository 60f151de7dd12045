/** The `--help` text of each `ai-burst` command, and the overview `ai-burst --help` prints. */
import { POLICY_NAMES } from '../cost/simulator/policies';

export const COST_USAGE = `Usage: ai-burst cost --docs-per-day N --gpu-hours-per-doc H [options]
       ai-burst cost --tokens-per-day N --tokens-per-second TYPE=TPS[,TYPE=TPS…] [options]
Predict the monthly GPU bill per instance type, region and market, cheapest first (prices: a dated snapshot).
  --docs-per-day N           documents a day, with --gpu-hours-per-doc H (GPU-hours one document takes, e.g. 0.2)
  --tokens-per-day N         tokens a day, with --tokens-per-second: measured tokens/s of one whole instance per type
  --instance-types a,b,…     types to price (default g5.xlarge,g6.xlarge,g6e.xlarge; tokens: the measured types)
  --model-server S           vllm (default): types the default ModelServer.vllm cannot run on (g4dn's T4) are marked ✗
                             and never "Cheapest"; custom: your own server, every type priced alike
  --regions a,b,…            regions to price (default: every region of the snapshot)
  --markets a,b,…            spot,on-demand,1y,3y (default: all)
  --days-per-month D         days in a month, > 0 and ≤ 31 (default 30)
  --spot-overhead X          extra GPU time on spot for redone work, ≥ 0 (default 0.05 = 5 %)
  --idle-overhead X          extra instance time for boot and idle tails, ≥ 0 (default 0.1 = 10 %)
  --top N                    rows in the table, an integer ≥ 1 (default 20; --json lists all)
  --json                     print { benchmark, gpuHoursPerDay, gpuHoursPerDayByType, gpuHoursPerMonth, snapshotDate,
                             options, cheapest, assumptions, … }
  --live                     replace snapshot spot prices with DescribeSpotPriceHistory now (needs AWS credentials with
                             ec2:DescribeSpotPriceHistory; falls back to the snapshot, saying why)
Numbers are decimal (0.2, 36000000, 3.6e7). Bad input: one line on stderr, exit code 2.
`;

export const SIMULATE_USAGE = `Usage: ai-burst simulate --trace FILE.csv [options]
Replay a demand trace through ai-burst's scaling policy and the usual alternatives, side by side.
  --trace FILE.csv           header arrival_s,gpu_seconds,priority,agent (one job per row; # lines are comments).
                             A line "# ai-burst simulate --interruptions-per-hour R --missed-notice-share P" sets
                             those for this trace (the standard stress trace carries 0.3 and 0.05); flags override it
  --policies a,b,…           ${POLICY_NAMES.join(',')} (default: all)
  --instance-type T          default g5.xlarge
  --region R                 default us-east-1
  --max-instances N          an integer from 1 to 10000 (default 16)
  --boot-median-s S          default 180
  --boot-p95-s S             ≥ the median (default 480)
  --interruptions-per-hour R spot interruptions per instance-hour, ≥ 0 (default: the trace's, else 0.02)
  --missed-notice-share P    share of spot notices nobody sees, 0 to 1 (default: the trace's, else 0.05)
  --wait-slo-s S             queue-wait SLO the policies aim at (default 300)
  --seed K                   an integer from 0 to 4294967295 (default 1); same seed → same result
  --json                     print { runs: […], bounds: { costFloorUsd, p95WaitFloorS }, snapshotDate }
  --report DIR               write DIR/summary.md and one SVG chart per policy (one time axis for all)
Numbers are decimal. Bad input: one line on stderr naming the flag or file line, exit code 2.
`;

export const TRACES_USAGE = `Usage: ai-burst traces --out DIR [--seed K]
Write the benchmark's standard trace set as CSV files (each with its description; stress with its settings line).
  --out DIR                  directory to write (created if missing)
  --seed K                   an integer from 0 to 4294967295 (default 42)
`;

export const OVERVIEW = `ai-burst — GPU cost model, scaling simulator and redrive for cdk-ai-burst

Usage:
  ai-burst cost --docs-per-day N --gpu-hours-per-doc H [options]        predict the monthly GPU bill
  ai-burst cost --tokens-per-day N --tokens-per-second TYPE=TPS,… [options]
  ai-burst simulate --trace FILE.csv [options]                          replay a trace through the scaling policies
  ai-burst traces --out DIR [--seed K]                                  write the standard traces as CSV
  ai-burst redrive --function-name NAME [options]                       send parked jobs back (needs AWS)
  ai-burst <command> --help                                             that command's flags
`;
