/**
 * Chatwoot's multipart form of "create a message" (what its own dashboard sends with files):
 * every field of the JSON body as a form field, with `content_attributes` as a JSON string
 * (Chatwoot's MessageBuilder parses a string there), `private` as `true`/`false`, and each file
 * as one `attachments[]` part with its file name and content type.
 */

/** One file to post, already in memory (downloaded or decoded by the activity). */
export interface UploadFile {
  fileName: string;
  contentType: string;
  bytes: Uint8Array;
}

/** The multipart body for `POST …/conversations/{id}/messages` with `files`. */
export function messageFormData(body: object, files: UploadFile[]): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(body)) {
    if (value === undefined || value === null) continue;
    form.append(name, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  for (const file of files) {
    form.append('attachments[]', new Blob([file.bytes], { type: file.contentType }), file.fileName);
  }
  return form;
}
