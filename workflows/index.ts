// Everything the worker bundles as workflow code.
export {
  messageDeliveryWorkflow,
  messageDeliveryV2Workflow,
  messageDeliveryV3Workflow,
  messageDeliveryV4Workflow,
} from './messageDelivery.js';
export { conversationWorkflow } from './conversation.js';
export { proactiveMessageWorkflow } from './proactive.js';
export { agentInboxWorkflow } from './agentInbox.js';
export { agentLeaseWorkflow } from './agentLease.js';
export { catchUpWorkflow } from './catchUp.js';
