/** Turn a failed upload into one sentence a person can act on. */

import { ApiError, DOCUMENT_EXTENSIONS } from "../../lib/api";

const ACCEPTED = DOCUMENT_EXTENSIONS.map((ext) => ext.slice(1).toUpperCase()).join(", ");

/**
 * The message for a rejected `POST /api/documents`. The server refuses the whole request when
 * one file is bad, and its `detail` names that file, so the detail is kept and the consequence
 * ("nothing was uploaded") added. Without a JSON body (e.g. a proxy's 413 page) a generic
 * sentence stands in for the detail.
 */
export function uploadErrorMessage(error: unknown): string {
  if (!(error instanceof ApiError)) return `Upload failed: ${error instanceof Error ? error.message : String(error)}`;
  const detail = error.code !== null || !/^\d{3}\b/.test(error.message) ? error.message : null;
  const nothing = "None of the files were uploaded.";
  if (error.code === "too_large" || error.status === 413) {
    return `File too large: ${detail ?? "a file is larger than the upload limit."} ${nothing}`;
  }
  if (error.code === "unsupported_media" || error.status === 415) {
    return `Unsupported file type: ${detail ?? "a file is not of an accepted type."} Accepted types: ${ACCEPTED}. ${nothing}`;
  }
  if (error.status === 401) return "Your session has ended. Sign in again to upload.";
  if (error.status === 0) return error.message;
  return `Upload failed: ${detail ?? error.message}`;
}
