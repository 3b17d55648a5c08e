/** One filter of a list page: a labelled drop-down of "all" (no filter, `undefined`) and the choices. */
export type FilterChoice = string | { value: string; label: string };

export function FilterSelect({
  label,
  value,
  choices,
  onChange,
}: {
  label: string;
  value: string | undefined;
  choices: readonly FilterChoice[];
  onChange: (value: string | undefined) => void;
}) {
  return (
    <label>
      {label}{' '}
      <select value={value ?? ''} onChange={(e) => onChange(e.target.value || undefined)}>
        <option value="">all</option>
        {choices.map((choice) => {
          const { value: v, label: text } = typeof choice === 'string' ? { value: choice, label: choice } : choice;
          return (
            <option key={v} value={v}>
              {text}
            </option>
          );
        })}
      </select>
    </label>
  );
}
