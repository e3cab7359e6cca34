import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { parseStat, processTree, readProcTable, treeCpuMs } from '../bench/processTree.js';
import { actionCounts, actionDelta, totalActions } from '../bench/serverActions.js';

// Lines as Temporal 1.29's Prometheus page writes them: one series per service and operation.
const PAGE = `# HELP action action counter
# TYPE action counter
action{action_type="grpc_SignalWithStartWorkflowExecution",namespace="default",operation="SignalWithStartWorkflowExecution",service_name="frontend"} 12
action{action_type="command_ScheduleActivityTask",namespace="default",operation="RespondWorkflowTaskCompleted",service_name="history"} 20
action{namespace="default",operation="RespondWorkflowTaskCompleted",action_type="command_ScheduleActivityTask",service_name="frontend"} 4
action{action_type="grpc_StartWorkflowExecution",namespace="temporal_system",operation="StartWorkflowExecution",service_name="frontend"} 2
# HELP action_latency latency
# TYPE action_latency counter
action_latency{action_type="grpc_SignalWithStartWorkflowExecution",namespace="default"} 99
`;

describe('the server action counter', () => {
  it("sums each action type over one namespace's series, whatever the label order", () => {
    expect(actionCounts(PAGE, 'default')).toEqual({
      grpc_SignalWithStartWorkflowExecution: 12,
      command_ScheduleActivityTask: 24,
    });
    expect(actionCounts(PAGE, 'temporal_system')).toEqual({ grpc_StartWorkflowExecution: 2 });
  });

  it('takes the delta per type and drops the types that did not move', () => {
    const before = { a: 3, b: 5 };
    const after = { a: 3, b: 9, c: 2 };
    expect(actionDelta(before, after)).toEqual({ b: 4, c: 2 });
    expect(totalActions(actionDelta(before, after))).toBe(6);
  });
});

describe('process tree CPU from /proc', () => {
  const children: Array<{ kill(): boolean }> = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill();
  });

  it('reads a command whose name holds spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i));
    fields[1] = '77'; // ppid
    [fields[11], fields[12], fields[13], fields[14]] = ['100', '50', '7', '3'];
    const stat = `4242 (node (a) b) ${['S', ...fields.slice(1)].join(' ')}`;
    expect(parseStat(stat)).toEqual({ ppid: 77, ticks: 160 });
  });

  it("counts a grandchild's CPU in its grandparent's tree", async () => {
    // The child starts a grandchild that burns 300 ms of CPU, then both wait to be killed
    // (/proc rounds each of user and system time down to 10 ms ticks).
    const burn = `let u;do{u=process.cpuUsage();}while(u.user+u.system<300000);console.log('burnt');setInterval(()=>{},1000);`;
    const parent = `const c=require('child_process').spawn(process.execPath,['-e',${JSON.stringify(burn)}],{stdio:['ignore','inherit','inherit']});console.log('grandchild '+c.pid);process.on('SIGTERM',()=>{c.kill();process.exit(0);});setInterval(()=>{},1000);`;
    const child = spawn(process.execPath, ['-e', parent], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const lines = createInterface({ input: child.stdout });
    let grandchild = 0;
    const burnt = new Promise<void>((resolve) => {
      lines.on('line', (line) => {
        if (line.startsWith('grandchild ')) grandchild = Number(line.split(' ')[1]);
        if (line === 'burnt') resolve();
      });
    });
    await burnt;

    const table = readProcTable();
    expect(processTree(child.pid as number, table)).toEqual(
      expect.arrayContaining([child.pid, grandchild]),
    );
    expect(treeCpuMs(child.pid, table)).toBeGreaterThanOrEqual(250);
    expect(treeCpuMs(grandchild, table)).toBeLessThanOrEqual(treeCpuMs(child.pid, table));
    expect(treeCpuMs(999_999_999, table)).toBeNaN();
  });
});
