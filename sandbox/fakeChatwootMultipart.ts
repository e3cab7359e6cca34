import { createHash } from 'node:crypto';

/**
 * Multipart message creates, as Chatwoot takes them (its dashboard sends files this way):
 * form fields for the message (`content_attributes` a JSON string, which MessageBuilder parses;
 * `private` as `true`/`false`) and one `attachments[]` part per file. Chatwoot's OpenAPI
 * document only describes the JSON body, so the fields are turned into that body and checked
 * against the same schema; what only multipart can get wrong is checked here.
 */

/** One `attachments[]` part as received. */
export interface UploadedPart {
  fieldName: string;
  fileName: string;
  contentType: string;
  bytes: Buffer;
}

/** A file as the fake stores it with its message. */
export interface StoredAttachment {
  id: number;
  file_type: 'image' | 'audio' | 'video' | 'file';
  file_name: string;
  content_type: string;
  file_size: number;
  /** Hex SHA-256 of the bytes (tests compare it with what they served). */
  sha256: string;
  data_url: string;
}

export interface MultipartBody {
  /** The form's fields as the JSON body they stand for (validated against the swagger). */
  body: Record<string, unknown>;
  files: UploadedPart[];
  /** Problems only a multipart body can have: each is a violation. */
  errors: string[];
}

/** `Attachment::ACCEPTABLE_FILE_TYPES` (plus every image, audio and video type). */
const ACCEPTABLE_FILE_TYPES = new Set([
  'text/csv',
  'text/plain',
  'text/rtf',
  'application/json',
  'application/pdf',
  'application/zip',
  'application/x-7z-compressed',
  'application/vnd.rar',
  'application/x-tar',
  'application/msword',
  'application/vnd.ms-excel',
  'application/vnd.ms-powerpoint',
  'application/rtf',
  'application/vnd.oasis.opendocument.text',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
]);
/** Chatwoot's default `MAXIMUM_FILE_UPLOAD_SIZE` (MB). */
export const CHATWOOT_MAX_FILE_BYTES = 40 * 1_048_576;

export function isMultipart(contentType: string | undefined): boolean {
  return /^multipart\/form-data\b/i.test(contentType ?? '');
}

/** Parses the body with the platform's own multipart parser (undici, as `fetch` uses). */
export async function parseMultipartMessage(
  raw: Buffer,
  contentType: string,
): Promise<MultipartBody> {
  let form: FormData;
  try {
    form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
  } catch (error) {
    return { body: {}, files: [], errors: [`body is not valid multipart: ${String(error)}`] };
  }
  const body: Record<string, unknown> = {};
  const files: UploadedPart[] = [];
  const errors: string[] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value !== 'string') {
      if (name !== 'attachments[]') {
        errors.push(`file part "${name}": Chatwoot reads files only from attachments[]`);
        continue;
      }
      if (!value.name) errors.push('attachments[] part has no filename');
      if (!value.type) errors.push(`attachments[] part "${value.name}" has no content type`);
      files.push({
        fieldName: name,
        fileName: value.name,
        contentType: value.type.split(';')[0]?.trim().toLowerCase() ?? '',
        bytes: Buffer.from(await value.arrayBuffer()),
      });
      continue;
    }
    if (name === 'attachments[]') {
      // Chatwoot would take a string there for a direct-upload blob id, which the bridge never has.
      errors.push('attachments[] holds text, not a file');
    } else if (name === 'content_attributes') {
      body[name] = parseAttributes(value, errors);
    } else if (name === 'private') {
      if (value !== 'true' && value !== 'false') {
        errors.push(`private must be "true" or "false", got "${value}"`);
      }
      body[name] = value === 'true';
    } else {
      body[name] = value;
    }
  }
  return { body, files, errors };
}

function parseAttributes(value: string, errors: string[]): unknown {
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed;
  } catch {
    // reported below
  }
  // MessageBuilder's safe_parse_json would drop it silently: the marker would be lost.
  errors.push('content_attributes must be a JSON object in a string');
  return {};
}

/** Why Chatwoot's Attachment validation refuses the file, or undefined. */
export function attachmentProblem(part: UploadedPart): string | undefined {
  const media = /^(image|audio|video)\//.test(part.contentType);
  if (!media && !ACCEPTABLE_FILE_TYPES.has(part.contentType)) {
    return `${part.fileName}: file type ${part.contentType} is not supported`;
  }
  if (part.bytes.length > CHATWOOT_MAX_FILE_BYTES) return `${part.fileName}: size is too big`;
  return undefined;
}

/** FileTypeHelper#file_type. */
function fileType(contentType: string): StoredAttachment['file_type'] {
  if (contentType.startsWith('image/')) return 'image';
  if (contentType.startsWith('audio/')) return 'audio';
  if (contentType.startsWith('video/')) return 'video';
  return 'file';
}

export function storeAttachment(part: UploadedPart, id: number, baseUrl: string): StoredAttachment {
  const sha256 = createHash('sha256').update(part.bytes).digest('hex');
  return {
    id,
    file_type: fileType(part.contentType),
    file_name: part.fileName,
    content_type: part.contentType,
    file_size: part.bytes.length,
    sha256,
    // Like an ActiveStorage redirect URL: it ends with the file name.
    data_url: `${baseUrl}/rails/active_storage/blobs/redirect/${sha256.slice(0, 16)}/${encodeURIComponent(part.fileName)}`,
  };
}

/** `Attachment#push_event_data`, as messages render their files. */
export function apiAttachment(
  attachment: StoredAttachment,
  message: { id: number; account_id: number },
): Record<string, unknown> {
  const extension = attachment.file_name.includes('.')
    ? attachment.file_name.split('.').pop()
    : null;
  return {
    id: attachment.id,
    message_id: message.id,
    file_type: attachment.file_type,
    account_id: message.account_id,
    extension,
    data_url: attachment.data_url,
    thumb_url: attachment.file_type === 'image' ? attachment.data_url : '',
    file_size: attachment.file_size,
    width: null,
    height: null,
  };
}
