/**
 * EC2 GPU instance families: who makes the GPU and which CPU architecture the instance runs. GpuFleet
 * checks its instance types against this table (the default AMI is NVIDIA + x86_64 only); the pricing
 * snapshot's `isGpuInstanceType` reads it too. Pure: no aws-cdk-lib, no SDK.
 */

export type GpuVendor = 'nvidia' | 'amd';
export type CpuArchitecture = 'x86_64' | 'arm64';

export interface GpuFamily {
  readonly vendor: GpuVendor;
  readonly architecture: CpuArchitecture;
}

const NVIDIA_X86: GpuFamily = { vendor: 'nvidia', architecture: 'x86_64' };

/**
 * Every G and P family (Inferentia and Trainium — inf*, trn* — are accelerators, not GPUs). Add a new
 * family here when AWS launches one; until then GpuFleet calls it unknown.
 */
const GPU_FAMILIES: Readonly<Record<string, GpuFamily>> = {
  g3: NVIDIA_X86,
  g3s: NVIDIA_X86,
  g4dn: NVIDIA_X86,
  g4ad: { vendor: 'amd', architecture: 'x86_64' },
  g5: NVIDIA_X86,
  g5g: { vendor: 'nvidia', architecture: 'arm64' },
  g6: NVIDIA_X86,
  g6e: NVIDIA_X86,
  g6f: NVIDIA_X86,
  gr6: NVIDIA_X86,
  gr6f: NVIDIA_X86,
  g7e: NVIDIA_X86,
  p2: NVIDIA_X86,
  p3: NVIDIA_X86,
  p3dn: NVIDIA_X86,
  p4d: NVIDIA_X86,
  p4de: NVIDIA_X86,
  p5: NVIDIA_X86,
  p5e: NVIDIA_X86,
  p5en: NVIDIA_X86,
  'p6-b200': NVIDIA_X86,
  'p6-b300': NVIDIA_X86,
  // Grace Blackwell: the CPU is NVIDIA Grace (Arm).
  'p6e-gb200': { vendor: 'nvidia', architecture: 'arm64' },
};

/** Names shaped like a GPU family (g…, gr…, p… followed by a digit), known or not. */
const GPU_FAMILY_SHAPE = /^(g|gr|p)\d/;

/** The family of an instance type: the part before the first dot (`g5` of `g5.xlarge`); undefined if malformed. */
export function familyOf(instanceType: string): string | undefined {
  const dot = instanceType.indexOf('.');
  if (dot <= 0 || dot === instanceType.length - 1) return undefined;
  return instanceType.slice(0, dot);
}

/** The GPU family of an instance type, or undefined when the family is not in the table. */
export function gpuFamilyOf(instanceType: string): GpuFamily | undefined {
  const family = familyOf(instanceType);
  return family !== undefined && Object.prototype.hasOwnProperty.call(GPU_FAMILIES, family) ? GPU_FAMILIES[family] : undefined;
}

/** True for a family name that looks like a G or P family but is not in the table (e.g. `g9`, a newer one). */
export function isUnknownGpuFamily(instanceType: string): boolean {
  const family = familyOf(instanceType);
  return family !== undefined && gpuFamilyOf(instanceType) === undefined && GPU_FAMILY_SHAPE.test(family);
}

/** Every known GPU family, sorted (for messages). */
export function knownGpuFamilies(): string[] {
  return Object.keys(GPU_FAMILIES).sort();
}
