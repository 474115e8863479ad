// The ensemble's verdict from the three reviews (stages.review.outputs.instances, passed in
// REVIEWS): each reviewer's verdict and findings, then the majority's verdict and the mean score.
const instances = JSON.parse(process.env.REVIEWS ?? '[]');
let approvals = 0;
let total = 0;
const severities = {};
for (const { index, matrix, outputs } of instances) {
  console.log(`review[${index}] ${matrix.provider}/${matrix.model}: ${outputs.verdict}, score ${Number(outputs.score).toFixed(2)}`);
  for (const f of outputs.findings ?? []) {
    console.log(`  ${f.severity} ${f.file}:${f.line} ${f.message}`);
    severities[f.severity] = (severities[f.severity] ?? 0) + 1;
  }
  if (outputs.approved) approvals++;
  total += Number(outputs.score ?? 0);
}
const verdict = approvals * 2 > instances.length ? 'approve' : 'request_changes';
const counts = Object.entries(severities).map(([s, n]) => `${n} ${s}`).join(', ') || 'none';
console.log(`ensemble: ${verdict} (${approvals} of ${instances.length} reviewers approve), mean score ${(total / instances.length).toFixed(2)}, findings: ${counts}`);
if (verdict !== 'approve') process.exitCode = 1;
