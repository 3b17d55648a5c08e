/**
 * New service: the dashboard's `gantry new`. The server's templates (built-in and a platform
 * team's own) with their fields; the form sends the chosen template, the name and the fields'
 * values, and the server creates the repository, registers the project and runs its first
 * pipeline; the page then links to the new project.
 */
import { type FormEvent, useEffect, useState } from 'react';
import { Link } from 'wouter';
import { getJson, p, send } from '../api.ts';
import { ErrorAlert } from '../components/PageTitle.tsx';

interface TemplateField {
  name: string;
  description: string;
  default?: string;
}

interface ServiceTemplate {
  name: string;
  description: string;
  builtin: boolean;
  fields: TemplateField[];
}

export default function NewServicePage() {
  const [templates, setTemplates] = useState<ServiceTemplate[] | null>(null);
  const [chosen, setChosen] = useState('');
  const [name, setName] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [path, setPath] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ project: string; path: string } | null>(null);

  useEffect(() => {
    getJson<{ templates: ServiceTemplate[] }>('/api/templates').then(
      (r) => setTemplates(r.templates),
      (err: Error) => setError(err.message),
    );
  }, []);
  const template = templates?.find((t) => t.name === chosen) ?? null;

  const choose = (t: ServiceTemplate) => {
    setChosen(t.name);
    setFields(Object.fromEntries(t.fields.map((f) => [f.name, f.default ?? ''])));
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!template) return;
    setBusy(true);
    setError(null);
    send<{ project: string; path: string }>('POST', '/api/services', {
      template: template.name,
      name,
      fields,
      ...(path.trim() ? { path: path.trim() } : {}),
    })
      .then(setCreated, (err: Error) => setError(err.message))
      .finally(() => setBusy(false));
  };

  if (created)
    return (
      <section>
        <h1>New service</h1>
        <p role="status">
          Created <strong>{created.project}</strong> in <code>{created.path}</code>; its first pipeline is running.{' '}
          <Link href={p`/projects/${created.project}`}>Open {created.project}</Link>
        </p>
      </section>
    );

  return (
    <section>
      <h1>New service</h1>
      <p>
        A repository from a template, its gantry.yaml already wired (build, tests, staging that deploys itself, production by canary, SLOs).
      </p>
      <ErrorAlert error={error} />
      {templates === null && !error && <p aria-busy="true">Loading…</p>}
      <form onSubmit={submit} aria-label="New service">
        <fieldset>
          <legend>Template</legend>
          {templates?.map((t) => (
            <label key={t.name} style={{ display: 'block' }}>
              <input type="radio" name="template" value={t.name} checked={chosen === t.name} onChange={() => choose(t)} />{' '}
              <strong>{t.name}</strong> {t.description}
              {!t.builtin && ' (added)'}
            </label>
          ))}
        </fieldset>
        {template && (
          <fieldset>
            <legend>{template.name}</legend>
            <label style={{ display: 'block' }}>
              Name <input required pattern="[A-Za-z0-9][A-Za-z0-9_.\-]*" value={name} onChange={(e) => setName(e.target.value)} />
            </label>
            {template.fields.map((f) => (
              <label key={f.name} style={{ display: 'block' }}>
                {f.name}{' '}
                <input required value={fields[f.name] ?? ''} onChange={(e) => setFields({ ...fields, [f.name]: e.target.value })} />{' '}
                <small>{f.description}</small>
              </label>
            ))}
            <label style={{ display: 'block' }}>
              Folder on the server (optional){' '}
              <input value={path} placeholder="default: the data directory's services/NAME" onChange={(e) => setPath(e.target.value)} />
            </label>
          </fieldset>
        )}
        <button type="submit" disabled={!template || busy}>
          {busy ? 'Creating…' : 'Create service'}
        </button>
      </form>
    </section>
  );
}
