routable.addTag(21401)
