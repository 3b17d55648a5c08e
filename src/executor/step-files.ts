/**
 * The files a step writes to talk back to the runner: `$GANTRY_OUTPUT` (step outputs) and
 * `$GANTRY_ENV` (environment for the following steps). The format is GitHub's, so scripts and
 * habits carry over:
 *
 *     name=value                 one line; the value is everything after the first `=`
 *     name<<DELIMITER            a multi-line value: the lines up to a line equal to DELIMITER
 *     line 1
 *     line 2
 *     DELIMITER
 *
 * Empty lines are ignored; a later assignment of the same name wins.
 */

export interface ParsedStepFile {
  values: Record<string, string>;
  /** One message per malformed line (the rest of the file is still used). */
  errors: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Parses the content of a GANTRY_OUTPUT / GANTRY_ENV file. Never throws: problems are reported. */
export function parseStepFile(content: string): ParsedStepFile {
  const values: Record<string, string> = {};
  const errors: string[] = [];
  const lines = content.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    const heredoc = line.indexOf('<<');
    const eq = line.indexOf('=');
    if (heredoc > 0 && (eq === -1 || heredoc < eq)) {
      const name = line.slice(0, heredoc).trim();
      const delimiter = line.slice(heredoc + 2).trim();
      if (!NAME.test(name) || delimiter === '') {
        errors.push(`line ${i + 1}: invalid heredoc start ${JSON.stringify(line)}`);
        continue;
      }
      const end = lines.indexOf(delimiter, i + 1);
      if (end === -1) {
        errors.push(`line ${i + 1}: no closing ${JSON.stringify(delimiter)} for ${name}`);
        break;
      }
      values[name] = lines.slice(i + 1, end).join('\n');
      i = end;
      continue;
    }
    const name = eq > 0 ? line.slice(0, eq).trim() : '';
    if (!NAME.test(name)) {
      errors.push(`line ${i + 1}: expected name=value or name<<DELIMITER, got ${JSON.stringify(line.slice(0, 80))}`);
      continue;
    }
    values[name] = line.slice(eq + 1);
  }
  return { values, errors };
}

/** Names a step may set through GANTRY_ENV: a shell variable name that Gantry does not own. */
export function isSettableEnvName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !name.startsWith('GANTRY_') && name !== 'GANTRY';
}
