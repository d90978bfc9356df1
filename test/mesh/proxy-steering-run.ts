/** Helper of proxy-steering.test.ts, run inside the test's namespace: BACKEND two|one|clear. */
import { createSteering, type SteeringBackend } from '../../mesh/proxy/index.ts';

const [backend, step] = process.argv.slice(2) as [SteeringBackend, string];
const s = await createSteering(backend);
if (step === 'clear') await s.clear();
else
  await s.apply(
    step === 'two'
      ? [
          { clusterIP: '10.96.0.10', port: 80, protocol: 'TCP', localPort: 40001 },
          { clusterIP: '10.96.0.10', port: 53, protocol: 'UDP', localPort: 40003 },
          { clusterIP: 'fd00::10', port: 53, protocol: 'UDP', localPort: 40002 },
        ]
      : [{ clusterIP: '10.96.0.10', port: 80, protocol: 'TCP', localPort: 40001 }],
  );
