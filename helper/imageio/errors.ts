/**
 * An image the user gave us cannot be used: missing file, unsupported format, corrupt data, too large.
 * The message is meant for the user as is: it names the image (label and path) and says what is wrong.
 */
export class ImageInputError extends Error {
  override readonly name = 'ImageInputError';
}
