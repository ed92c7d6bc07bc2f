/** Input files that cannot be used: exit 65, with the file named in the message. */
export class BadInput extends Error {}
