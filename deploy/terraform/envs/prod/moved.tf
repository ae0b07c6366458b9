# State moves from the flat layout, where this root called every module
# itself, to the platform module: existing resources keep their identity
# instead of being destroyed and re-created. Delete this file once every
# state of this env has been applied with it (terraform state list shows no
# address outside module.platform).

moved {
  from = module.kms
  to   = module.platform.module.kms
}

moved {
  from = module.network
  to   = module.platform.module.network
}

moved {
  from = module.cluster
  to   = module.platform.module.cluster
}

moved {
  from = module.queues
  to   = module.platform.module.queues
}

moved {
  from = module.database
  to   = module.platform.module.database
}

moved {
  from = module.registry
  to   = module.platform.module.registry
}

moved {
  from = module.edge
  to   = module.platform.module.edge
}

moved {
  from = module.identity
  to   = module.platform.module.identity
}
