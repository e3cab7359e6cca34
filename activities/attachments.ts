import { z } from 'zod';
import type { ChatwootMessage } from '../chatwoot/client.js';
import type { UploadFile } from '../chatwoot/multipart.js';
import type { AgentAttachmentsConfig } from '../config/schema.js';
import type { AttachmentReport } from '../workflows/shared.js';
import { download, DownloadRefused, tooLarge, urlProblem } from './download.js';

/**
 * The files of one agent reply (metadata `attachments`), turned into bytes at post time: URLs
 * downloaded within the agent's `attachments` policy, inline base64 decoded. Bytes never go into
 * workflow history; each file that cannot be posted is reported with the reason, and the rest
 * of the reply (text, other files) is posted all the same.
 */

/** What an agent writes for one file (the shared contract of issue 13). */
const entrySchema = z
  .object({
    file_name: z.string().trim().min(1).max(255),
    content_type: z
      .string()
      .regex(/^[\w.+-]+\/[\w.+-]+$/, 'must be a type such as image/png')
      .transform((type) => type.toLowerCase()),
    url: z.string().min(1).optional(),
    data: z.string().min(1).optional(),
  })
  .loose()
  .refine((entry) => (entry.url === undefined) !== (entry.data === undefined), {
    message: 'give exactly one of url or data (base64)',
  });

type Entry = z.infer<typeof entrySchema>;

export interface PreparedFiles {
  /** Ready to post, in the reply's order. */
  files: UploadFile[];
  /** One line per entry of the reply, in its order. */
  report: AttachmentReport[];
}

/** Downloads and decodes every entry (in parallel), each within `timeoutMs` and `signal`. */
export async function prepareAttachments(
  entries: unknown[],
  policy: AgentAttachmentsConfig,
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<PreparedFiles> {
  const results = await Promise.all(
    entries.map((raw, index) => prepareOne(raw, index, policy, options)),
  );
  return {
    files: results.flatMap((result) => (result.file ? [result.file] : [])),
    report: results.map((result) => result.report),
  };
}

async function prepareOne(
  raw: unknown,
  index: number,
  policy: AgentAttachmentsConfig,
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<{ file?: UploadFile; report: AttachmentReport }> {
  const checked = checkEntry(raw, index, policy);
  if ('refused' in checked) return { report: checked.refused };
  const { entry, fileName } = checked;
  const refuse = (reason: string, status: 'refused' | 'failed' = 'refused') => ({
    report: { fileName, contentType: entry.content_type, status, reason },
  });
  let bytes: Uint8Array;
  if (entry.data !== undefined) {
    bytes = Buffer.from(entry.data.replace(/\s+/g, ''), 'base64');
  } else {
    const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]);
    try {
      const downloaded = await download(entry.url ?? '', policy, signal);
      const served = downloaded.contentType;
      if (served && served !== 'application/octet-stream' && served !== entry.content_type) {
        return refuse(`the file host says it is ${served}, the reply says ${entry.content_type}`);
      }
      bytes = downloaded.bytes;
    } catch (error) {
      if (error instanceof DownloadRefused) return refuse(error.message);
      return refuse(error instanceof Error ? error.message : String(error), 'failed');
    }
  }
  if (bytes.length === 0) return refuse('the file is empty');
  const file = { fileName, contentType: entry.content_type, bytes };
  return {
    file,
    report: { fileName, contentType: entry.content_type, status: 'posted', bytes: bytes.length },
  };
}

/**
 * What the policy alone says of one entry, before any download: refused (with why), or the
 * entry and the file name it is posted under.
 */
function checkEntry(
  raw: unknown,
  index: number,
  policy: AgentAttachmentsConfig,
): { refused: AttachmentReport } | { entry: Entry; fileName: string } {
  const parsed = entrySchema.safeParse(raw);
  const named = (raw as { file_name?: unknown } | null)?.file_name;
  const fallbackName = typeof named === 'string' && named ? named : `attachment ${index + 1}`;
  if (!parsed.success) {
    const problem = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || 'entry'}: ${issue.message}`)
      .join('; ');
    return { refused: { fileName: fallbackName, status: 'refused', reason: problem } };
  }
  const entry = parsed.data;
  const fileName = safeFileName(entry.file_name, index);
  const refused = (reason: string) => ({
    refused: { fileName, contentType: entry.content_type, status: 'refused' as const, reason },
  });
  if (index >= policy.maxFiles) {
    return refused(`more than ${policy.maxFiles} files in one reply (attachments.maxFiles)`);
  }
  if (!typeAllowed(entry.content_type, policy.allowedTypes)) {
    return refused(`type ${entry.content_type} is not in the agent's attachments.allowedTypes`);
  }
  if (entry.data !== undefined) {
    const data = entry.data.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 === 1) {
      return refused('data is not base64');
    }
    const size = Math.floor((data.length * 3) / 4) - (data.match(/=+$/)?.[0].length ?? 0);
    if (size > policy.maxInlineBytes) {
      return refused(
        `inline data is ${size.toLocaleString('en')} bytes, over the agent's attachments.maxInlineBytes (${policy.maxInlineBytes.toLocaleString('en')}); give a url instead`,
      );
    }
    if (size > policy.maxBytes) return refused(tooLarge(size, policy.maxBytes));
  } else {
    let url: URL;
    try {
      url = new URL(entry.url ?? '');
    } catch {
      return refused('url is not a valid URL');
    }
    const problem = urlProblem(url, policy);
    if (problem) return refused(problem);
  }
  return { entry, fileName };
}

/**
 * The report for a message an earlier attempt posted (found by its marker): what the policy
 * refuses is refused again; every other file is posted if the message has it (Chatwoot's
 * `data_url` ends with the file name), else its download had failed on that attempt.
 */
export function reportForEarlierCopy(
  entries: unknown[],
  policy: AgentAttachmentsConfig,
  message: Pick<ChatwootMessage, 'attachments'>,
): AttachmentReport[] {
  const names = (message.attachments ?? []).map((a) => lastSegment(a.data_url ?? ''));
  return entries.map((raw, index) => {
    const checked = checkEntry(raw, index, policy);
    if ('refused' in checked) return checked.refused;
    const { fileName, entry } = checked;
    const posted = names.includes(fileName);
    return {
      fileName,
      contentType: entry.content_type,
      status: posted ? 'posted' : 'failed',
      ...(posted ? {} : { reason: 'not in the message an earlier attempt posted' }),
    };
  });
}

/** `image/*` matches `image/png`; anything else must match exactly. */
export function typeAllowed(type: string, allowed: string[]): boolean {
  return allowed.some((pattern) => {
    const wanted = pattern.toLowerCase();
    return wanted.endsWith('/*') ? type.startsWith(wanted.slice(0, -1)) : type === wanted;
  });
}

/** The base name without path parts or control characters (Chatwoot shows it to the customer). */
function safeFileName(name: string, index: number): string {
  // eslint-disable-next-line no-control-regex
  const base = (name.split(/[/\\]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return base && base !== '.' && base !== '..' ? base : `attachment-${index + 1}`;
}

function lastSegment(url: string): string {
  const path = url.split('?')[0] ?? '';
  try {
    return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
  } catch {
    return path.slice(path.lastIndexOf('/') + 1);
  }
}
