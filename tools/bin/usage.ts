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

export const STAGE_MODEL_USAGE = `Usage: ai-burst stage-model --model ORG/NAME --s3 s3://BUCKET/PREFIX [options]
Copy a model's files from the Hugging Face hub into S3 once, for ModelWeights.fromBucket(bucket, prefix).
Run it again after an interruption: complete files are skipped, unfinished uploads resume from their missing parts.
  --model ORG/NAME           the model's id on the hub (e.g. Qwen/Qwen2.5-7B-Instruct)
  --revision REV             branch, tag or commit (default main); every file comes from the commit it names then
  --s3 s3://BUCKET/PREFIX    where the files go: s3://BUCKET/PREFIX/<path in the model>
  --region R                 AWS region of the bucket (default: AWS_REGION or your profile's region)
  --hub-url URL              the hub (default HF_ENDPOINT, else https://huggingface.co); also the only host that gets
                             HF_TOKEN: downloads it redirects elsewhere (its CDN) go without the token
  --include p,q,…            only files matching one of these patterns (* matches any characters, / too; a pattern
                             ending in / takes the folder), e.g. '*.safetensors,*.json,tokenizer*'
  --concurrency N            parts fetched and uploaded at once, 1–32 (default 4); memory ≈ N × the part size
  --part-size-mib M          multipart part size in MiB, 5–5120 (default 64); files up to one part go in one PUT
  --dry-run                  list the files and what a run would do (copy, resume, skip); fetches and uploads nothing
  --json                     print the report { model, commit, bucket, prefix, files: [{ path, size, action, result }],
                             totals, modelWeights: { bucket, prefix } } instead of the summary
HF_TOKEN (environment): a hub read token, for gated or private models; sent as Authorization: Bearer, never printed.
Checks: each file's sha256 (LFS) or git blob id against the hub's before it is stored; a mismatch stores nothing.
Needs AWS credentials allowed s3:ListBucket and s3:ListBucketMultipartUploads on the bucket, s3:GetObject,
s3:PutObject, s3:ListMultipartUploadParts and s3:AbortMultipartUpload under the prefix. Progress on stderr; bad
input or set-up: one line, exit code 2; a file that failed: exit code 1 (run again to resume).
`;

export const OVERVIEW = `ai-burst — GPU cost model, scaling simulator, redrive and model staging for cdk-ai-burst

Usage:
  ai-burst cost --docs-per-day N --gpu-hours-per-doc H [options]        predict the monthly GPU bill
  ai-burst cost --tokens-per-day N --tokens-per-second TYPE=TPS,… [options]
  ai-burst simulate --trace FILE.csv [options]                          replay a trace through the scaling policies
  ai-burst traces --out DIR [--seed K]                                  write the standard traces as CSV
  ai-burst redrive --function-name NAME [options]                       send parked jobs back (needs AWS)
  ai-burst stage-model --model ORG/NAME --s3 s3://BUCKET/PREFIX [options] copy a model from the hub into S3 (needs AWS)
  ai-burst <command> --help                                             that command's flags
`;
