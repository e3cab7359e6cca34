// Everything the worker bundles as workflow code.
export { messageDeliveryWorkflow } from './messageDelivery.js';
export { agentInboxWorkflow } from './agentInbox.js';
