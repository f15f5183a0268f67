/**
 * The monolith stores one `full_name`; the users service stores `first_name`
 * and `last_name`. The API still speaks one `name`, so the mapping must be
 * exact both ways for every name the API can store (trimmed, non-empty):
 * `joinName(splitName(name)) === name`. The sync engine maps monolith rows
 * with `splitName`, and the reverse sync writes `full_name` with `joinName`.
 *
 * The rule: the first name is the text before the first space (U+0020 only),
 * the last name is everything after it, verbatim (further spaces included),
 * and a name without a space has an empty last name. It is a storage rule,
 * not a claim about how people's names work: nothing displays the two halves.
 */

export interface NameParts {
  /** Non-empty and without a space. */
  firstName: string;
  /** Possibly empty; may contain spaces. */
  lastName: string;
}

export function splitName(name: string): NameParts {
  const space = name.indexOf(' ');
  if (space === -1) return { firstName: name, lastName: '' };
  return { firstName: name.slice(0, space), lastName: name.slice(space + 1) };
}

export function joinName({ firstName, lastName }: NameParts): string {
  return lastName === '' ? firstName : `${firstName} ${lastName}`;
}
