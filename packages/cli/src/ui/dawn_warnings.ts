/**
 * Dawn (the optional `webgpu` package) prints two lines from native code straight to fd 2 whenever
 * it enumerates a Vulkan adapter whose dynamic-buffer limits exceed its own (lavapipe reports
 * 1000000, RADV 500000), e.g.
 *   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
 * They come from `NormalizeLimits` (src/dawn/native/Limits.cpp), which `PhysicalDeviceBase::Initialize`
 * always calls, through `dawn::WarningLog()`, whose destructor `fprintf`s to stderr unless Dawn is
 * built with DAWN_DISABLE_LOGGING. No `create()` flag (backend, adapter, validate, dlldir,
 * enable/disable-dawn-features) nor adapter option reaches that path, and Node cannot redirect fd 2
 * around a native call. So the CLI runs its command in a child whose stderr passes through this
 * filter (bin.ts): exactly these lines are dropped, everything else is forwarded as it comes.
 */
const LIMIT_WARNING = /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n/;
const PREFIX = 'Warning: maxDynamic';

/** Removes Dawn's limit warnings from a stream of text given in arbitrary chunks. */
export class DawnWarningFilter {
  /** The start of a line that may still turn out to be a warning (held back until its newline). */
  private pending = '';
  private atLineStart = true;

  /** The text of `chunk` to pass on now. */
  push(chunk: string): string {
    let s = this.pending + chunk;
    this.pending = '';
    let out = '';
    while (s) {
      if (this.atLineStart) {
        const m = LIMIT_WARNING.exec(s);
        if (m) { s = s.slice(m[0].length); continue; }
        const nl = s.indexOf('\n');
        const head = nl < 0 ? s : s.slice(0, nl);
        if (nl < 0 && (head.length < PREFIX.length ? PREFIX.startsWith(head) : head.startsWith(PREFIX))) {
          this.pending = s;
          break;
        }
      }
      const nl = s.indexOf('\n');
      if (nl < 0) { out += s; this.atLineStart = false; break; }
      out += s.slice(0, nl + 1);
      s = s.slice(nl + 1);
      this.atLineStart = true;
    }
    return out;
  }

  /** What is still held back (a last line without its newline is not a complete warning). */
  end(): string {
    const rest = this.pending;
    this.pending = '';
    return rest;
  }
}
