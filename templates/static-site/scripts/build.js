// The build: copies public/ into dist/, which the release carries and the server serves.
import { cpSync, mkdirSync } from 'node:fs';

mkdirSync('dist', { recursive: true });
cpSync('public', 'dist', { recursive: true });
console.log('built {{name}} into dist/');
