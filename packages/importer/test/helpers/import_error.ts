import { isImportError } from '@tfjs-mbq/importer';

/** The message of the ImportError `p` rejects with (fails the test if it resolves or throws something else); one line. */
export async function importErrorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (!isImportError(e)) throw e;
    expect(e.message).not.toContain('\n');
    return e.message;
  }
  throw new Error('expected an ImportError');
}
