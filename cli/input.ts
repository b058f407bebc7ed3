/**
 * Reading from stdin: a whole piped value (tokens, secret values), one
 * answered line (confirmations), or a hidden line typed at a terminal.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { TtyWritable } from './output.ts';

type Stdin = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** Everything piped in, minus one trailing newline (what `echo` adds). */
export async function readAll(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Asks a question on stderr and reads one line; undefined when stdin ends first. */
export function askLine(stdin: Stdin, stderr: TtyWritable, question: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: stdin, terminal: false });
    stderr.write(question);
    let answered = false;
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(line);
    });
    rl.once('close', () => {
      if (!answered) resolve(undefined);
    });
  });
}

/**
 * A value that must not be echoed or land in shell history: typed hidden at a
 * terminal, else read whole from the pipe.
 */
export async function readSecretValue(stdin: Stdin, stderr: TtyWritable, prompt: string): Promise<string> {
  if (!stdin.isTTY || !stdin.setRawMode) return readAll(stdin);
  stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            stdin.off('data', onData);
            return resolve(value);
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            return reject(new Error('Cancelled.'));
          }
          value = ch === '\u007f' ? value.slice(0, -1) : value + ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    stderr.write('\n');
  }
}
