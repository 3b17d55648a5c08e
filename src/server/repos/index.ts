/** Reading a project's repository through git: the config of a commit, what a push changed, branch heads, URL mirrors. */
export {
  changedFiles,
  type CommitList,
  commitsBetween,
  listPushRefs,
  MAX_RELEASE_COMMITS,
} from './git-changes.ts';
export { CONFIG_FILES, readConfigAtCommit, readFilesAtCommit, syncMirror } from './repo-files.ts';
