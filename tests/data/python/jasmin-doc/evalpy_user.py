if routable.user.username == 'foo':
    result = False
else:
    result = True
