/**
 * Which GPU models a model server can run on, so the cost tools do not recommend a type the fleet's server
 * cannot use. The default `ModelServer.vllm()` (lib/compute/model-server.ts, vLLM v0.11 = V1 engine only)
 * needs compute capability ≥ 8.0 for its attention kernels: the T4 of g4dn (7.5) is out, which is why the
 * GpuFleet's default types exclude g4dn (issue 3). A custom server (`ModelServer.container()` /
 * `.commands()`) may run anywhere; the user knows.
 */
export type CostModelServer = 'vllm' | 'custom';

export const COST_MODEL_SERVERS: readonly CostModelServer[] = ['vllm', 'custom'];

/** GPU model → why the default vLLM server cannot run on it. */
const VLLM_UNSUPPORTED: Readonly<Record<string, string>> = {
  T4: "vLLM's V1 engine (the default ModelServer.vllm) does not run on the T4 (compute capability 7.5)",
};

/** Why `server` cannot run on `gpuModel`, or `undefined` when it can. */
export function modelServerCannotRun(server: CostModelServer, gpuModel: string): string | undefined {
  return server === 'vllm' ? VLLM_UNSUPPORTED[gpuModel] : undefined;
}
