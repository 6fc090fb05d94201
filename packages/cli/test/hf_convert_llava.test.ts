/**
 * `tfjs-mbq convert <hfDir>` on LLaVA-1.5 (helpers/hf_convert.ts says what is checked), and an
 * error found after the on-the-fly import names the user's checkpoint, not the scratch copy.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CALIB, HF, describeHfConversion } from './helpers/hf_convert.js';
import { runCli } from './helpers/run_cli.js';

describeHfConversion('llava-1.5-tiny');

test('llava-1.5-tiny: a chat template that cannot render a caption prompt fails the conversion naming the checkpoint\'s template file', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'hf-convert-error-'));
  try {
    // The checkpoint as a user has it, with a template that refuses an empty question (a caption's
    // prompt): the import's probe questions render, calibration's caption does not.
    const hfDir = join(tmp, 'my-llava');
    cpSync(join(HF, 'llava-1.5-tiny'), hfDir, { recursive: true });
    rmSync(join(hfDir, 'records'), { recursive: true });
    const template = readFileSync(join(hfDir, 'chat_template.jinja'), 'utf8');
    writeFileSync(join(hfDir, 'chat_template.jinja'), template.replace("{{ content['text'] + ' ' }}", "{% if content['text'] == '' %}{{ raise_exception('no question') }}{% endif %}{{ content['text'] + ' ' }}"));
    const calib = join(tmp, 'calib');
    mkdirSync(calib);
    copyFileSync(join(CALIB, '000.png'), join(calib, '000.png'));
    writeFileSync(join(calib, 'manifest.jsonl'), `${JSON.stringify({ image: '000.png', caption: 'a small blue triangle at the top left .' })}\n`);
    const out = join(tmp, 'out');
    const r = await runCli(['convert', hfDir, '--calib', calib, '--out', out, '--backend', 'cpu', '--no-progress']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(hfDir, 'chat_template.jinja')}: cannot render the chat template`);
    expect(r.stderr).not.toContain('.import-');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).sort()).toEqual(['calib', 'my-llava']); // the scratch import is gone too
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('llava-1.5-tiny: a NaN weight fails the conversion naming the checkpoint\'s safetensors file and tensor, not the imported copy', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'hf-convert-nan-'));
  try {
    const hfDir = join(tmp, 'my-llava');
    cpSync(join(HF, 'llava-1.5-tiny'), hfDir, { recursive: true });
    rmSync(join(hfDir, 'records'), { recursive: true });
    const file = join(hfDir, 'model.safetensors');
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
    const tensor = 'language_model.model.layers.0.mlp.down_proj.weight';
    bytes.writeFloatLE(Number.NaN, 8 + n + header[tensor]!.data_offsets[0] + 40);
    writeFileSync(file, bytes);
    const out = join(tmp, 'out');
    const r = await runCli(['convert', hfDir, '--calib', CALIB, '--out', out, '--backend', 'cpu', '--no-progress']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`tfjs-mbq convert: ${file}: tensor '${tensor}' holds NaN (weights must be finite)`);
    expect(r.stderr).not.toContain('.import-');
    expect(r.stderr).not.toContain('group1-shard');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).sort()).toEqual(['my-llava']);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
