/**
 * The versions of the peer packages this package runs on, checked where they are loaded so an
 * app on an unsupported tfjs gets one line naming what it has and what is needed, instead of
 * `Unknown op` errors later. The same ranges are the peerDependencies of every @tfjs-mbq
 * package.json (test/peer_versions.test.ts holds them equal).
 *
 * Why 4.6.0: it is the first release of @tensorflow/tfjs-backend-webgpu (a peer, so bundlers can
 * resolve its dynamic import); the app fixture test installs 4.6.0 and 4.22.0 from npm and runs
 * the ops, the runtime and the converter on both (examples/npm-app). WebGPU itself needs 4.22.0:
 * older webgpu backends call `adapter.requestAdapterInfo()`, which Dawn and Chrome 131+ removed.
 */
export const TFJS_PEER_RANGE = '^4.6.0';
export const TFJS_OLDEST = '4.6.0';
const TFJS_NEXT_MAJOR = 5;
/** Oldest tfjs whose WebGPU backend initialises on current WebGPU implementations. */
export const WEBGPU_OLDEST_TFJS = '4.22.0';
/** The `webgpu` package (Dawn for Node): an optional peer, needed only for WebGPU in Node. */
export const DAWN_PEER_RANGE = '^0.6.2';

/** `major.minor.patch` of a version string (a pre-release or build suffix is ignored); null if not one. */
export function parseVersion(version: string): [number, number, number] | null {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Negative, zero or positive as `a` is older than, the same as or newer than `b` (both valid versions). */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) throw new Error(`compareVersions: not a version: ${JSON.stringify(pa ? b : a)}`);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}

/** Why `found` (the version a tfjs package reports) is outside {@link TFJS_PEER_RANGE}; null when inside. */
export function tfjsVersionProblem(pkg: string, found: unknown): string | null {
  const v = typeof found === 'string' ? parseVersion(found) : null;
  const needs = `@tfjs-mbq needs ${pkg} ${TFJS_PEER_RANGE} (${TFJS_OLDEST} or a newer 4.x)`;
  if (!v) return `${needs}; this app's ${pkg} reports no usable version (${JSON.stringify(found)})`;
  if (v[0] === TFJS_NEXT_MAJOR - 1 && compareVersions(found as string, TFJS_OLDEST) >= 0) return null;
  return `${needs}; this app has ${found as string}: install tfjs-core, -converter and the backends at one version in that range`;
}

/** Throws {@link tfjsVersionProblem}'s line when `found` is outside the supported range. */
export function checkTfjsVersion(pkg: string, found: unknown): void {
  const problem = tfjsVersionProblem(pkg, found);
  if (problem) throw new Error(problem);
}
